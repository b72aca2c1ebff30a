import TidemarkIO

/// What `verify` found. `problems` are damage (the store would refuse to open, or has lost
/// data); `warnings` are what recovery repairs on its own (a torn tail, leftover temp files).
public struct VerificationReport: Sendable, Hashable, Codable {
    public var problems: [StoreProblem] = []
    public var warnings: [StoreProblem] = []
    public var filesChecked = 0
    public var framesChecked = 0
    public var checkpointsChecked = 0

    public var isClean: Bool { problems.isEmpty }
}

/// The offline check behind `Store.verify`: reads every file, changes nothing.
enum Verification {
    static func run(directory: String, fileSystem: any FileSystem, options: StoreOptions) throws -> VerificationReport {
        let maxPayload = options.maxFramePayloadBytes
        var report = VerificationReport()
        func path(_ name: String) -> String { FilePaths.join(directory, name) }
        func problem(_ name: String, _ offset: Int64, _ message: String) {
            report.problems.append(StoreProblem(file: name, offset: offset, message: message))
        }
        let names: [String]
        do {
            names = try fileSystem.listDirectory(directory)
        } catch let error as FileSystemError {
            throw StoreError(.io, "cannot list the store directory", path: directory, cause: error)
        }
        for name in names where name.hasSuffix(".tmp") {
            report.warnings.append(StoreProblem(file: name, offset: 0, message: "leftover temp file (removed at open)"))
        }

        var manifest = Manifest()
        if names.contains(StoreFiles.manifest) {
            report.filesChecked += 1
            do {
                manifest = try Manifest.decode(try fileSystem.readFile(path(StoreFiles.manifest)), path: path(StoreFiles.manifest))
            } catch let error as StoreError {
                problem(StoreFiles.manifest, error.offset ?? 0, error.message)
            } catch {
                problem(StoreFiles.manifest, 0, "unreadable: \(error)")
            }
        }
        for entry in manifest.checkpoints {
            report.filesChecked += 1
            report.checkpointsChecked += 1
            do {
                _ = try Recovery.loadCheckpoint(entry, directory: directory, fileSystem: fileSystem)
            } catch let error as StoreError {
                problem(entry.fileName, error.offset ?? 0, error.message)
            }
        }
        let listed = Set(manifest.checkpoints.map(\.fileName))
        for name in names where StoreFiles.checkpointLSN(name) != nil && !listed.contains(name) {
            report.warnings.append(StoreProblem(file: name, offset: 0, message: "checkpoint not in the manifest (removed at open)"))
        }

        let segmentLSNs = names.compactMap(StoreFiles.segmentFirstLSN).sorted()
        let replayStart = (manifest.checkpoints.map(\.lsn).min() ?? 0) + 1
        if let first = segmentLSNs.first, first > replayStart {
            problem(StoreFiles.segmentName(firstLSN: first), 0,
                    "the log starts at LSN \(first) but the oldest checkpoint needs LSN \(replayStart) onwards")
        }
        var previousLastLSN: UInt64?
        for (index, firstLSN) in segmentLSNs.enumerated() {
            let name = StoreFiles.segmentName(firstLSN: firstLSN)
            let isLast = index == segmentLSNs.count - 1
            report.filesChecked += 1
            let scanned: (bytes: Int, result: Result<SegmentScan, FormatError>)
            do {
                scanned = try SegmentScan.scan(fileSystem: fileSystem, path: path(name), maxPayload: maxPayload)
            } catch {
                problem(name, 0, "unreadable: \(error)")
                continue
            }
            let scan: SegmentScan
            switch scanned.result {
            case .success(let value): scan = value
            case .failure(let error):
                if isLast, SegmentHeader.isUnfinished(fileSize: scanned.bytes, sectorAlignment: options.sectorAlignment) {
                    report.warnings.append(StoreProblem(file: name, offset: 0, message: "unfinished new segment (removed at open)"))
                } else {
                    problem(name, 0, "segment header: \(error.message)")
                }
                previousLastLSN = nil
                continue
            }
            if scan.header.firstLSN != firstLSN {
                problem(name, 16, "segment header says first LSN \(scan.header.firstLSN), the file name \(firstLSN)")
            }
            if let previousLastLSN, previousLastLSN + 1 != firstLSN {
                problem(name, 0, "segment starts at LSN \(firstLSN), the previous one ends at \(previousLastLSN)")
            }
            switch scan.verdict(nextFirstLSN: isLast ? nil : segmentLSNs[index + 1]) {
            case .clean: break
            case .tornTail(let offset):
                report.warnings.append(StoreProblem(
                    file: name, offset: Int64(offset),
                    message: "torn tail: \(scan.fileSize - offset) unacknowledged bytes (cut at open)"))
            case .corrupted:
                for damage in scan.damage {
                    problem(name, Int64(damage.offset), "\(damage.reason) (\(damage.length) bytes damaged)")
                }
            }
            for item in scan.frames {
                report.framesChecked += 1
                do {
                    _ = try RecordCoding.decodeOperations(item.frame.payload)
                } catch let error as FormatError {
                    problem(name, Int64(item.offset + Frame.headerSize + error.offset), "frame LSN \(item.frame.lsn): \(error.message)")
                }
            }
            previousLastLSN = scan.frames.last?.frame.lsn ?? (firstLSN - 1)
        }
        return report
    }
}
