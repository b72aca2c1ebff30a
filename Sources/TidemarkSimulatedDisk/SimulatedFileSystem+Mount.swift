import TidemarkIO

#if canImport(Glibc)
import Glibc
#endif

/// What an I/O error may do to the whole file system: shut it down (XFS) or remount it
/// read-only (ext4 `errors=remount-ro`), until the next crash reboots the machine.
enum MountState {
    case mounted
    /// Every call changing the file system fails with EROFS; reads work.
    case readOnly
    /// Every call but `close` fails with EIO.
    case shutDown
}

extension FileOperation {
    /// Whether the call changes the file system (an `open` only with write options; its body
    /// checks those).
    var changesFileSystem: Bool {
        switch self {
        case .write, .truncate, .sync, .syncData, .createDirectory, .remove, .rename, .syncDirectory: true
        case .open, .read, .size, .close, .listDirectory, .status: false
        }
    }
}

extension SimulatedFileSystem {
    /// Called once an injected I/O error struck: maybe the file system shuts down, or else
    /// remounts read-only. Each its own stream, drawn only when its knob is set.
    func stopFileSystemMaybe(afterErrorAt path: String, callIndex: Int) {
        guard mountState == .mounted else { return }
        let faults = injector.configuration
        if faults.shutdownProbability > 0, injector.shutdown.chance(faults.shutdownProbability),
            takeFault(.shutdown, path: path, callIndex: callIndex, outcome: "file system shut down: every call fails with EIO until the next crash")
        {
            mountState = .shutDown
        } else if faults.readOnlyRemountProbability > 0, injector.readOnlyRemount.chance(faults.readOnlyRemountProbability),
            takeFault(.readOnlyRemount, path: path, callIndex: callIndex, outcome: "remounted read-only: changes fail with EROFS until the next crash")
        {
            mountState = .readOnly
        }
    }

    /// Refuses a call the mount state forbids: any but `close` when shut down, one that changes
    /// the file system (or `opening` for writing) when read-only.
    func refuseWhenUnmounted(_ operation: FileOperation, path: String, callIndex: Int, opening options: OpenOptions = []) throws {
        switch mountState {
        case .mounted:
            return
        case .shutDown where operation != .close:
            injector.configuredFaults.append(ConfiguredFault(
                kind: .shutDown, path: path, callIndex: callIndex, offset: 0, outcome: "eio: the file system is shut down"))
            throw FileSystemError(.io, "simulated EIO on \(operation.rawValue): the file system is shut down", path: path, errno: EIO)
        case .readOnly where operation.changesFileSystem || !options.isDisjoint(with: [.write, .create, .truncate]):
            injector.configuredFaults.append(ConfiguredFault(
                kind: .readOnly, path: path, callIndex: callIndex, offset: 0, outcome: "erofs: the file system is read-only"))
            throw FileSystemError(
                .permissionDenied, "simulated EROFS on \(operation.rawValue): remounted read-only after an error", path: path, errno: EROFS)
        default:
            return
        }
    }
}
