import TidemarkIO

/// A file system that can stop the process using it, as a kill point of `SimulatedFileSystem`
/// does: once halted every call fails until the machine restarts. A subject asks it to tell a
/// dead process from an ordinary I/O error; a real disk never halts, so it need not conform.
public protocol HaltableFileSystem: FileSystem {
    /// True from the call a kill point stopped until the next crash.
    var isHalted: Bool { get }
}

extension FileSystem {
    /// Whether this file system halted the process (false for one that cannot).
    public var hasHaltedProcess: Bool { (self as? any HaltableFileSystem)?.isHalted ?? false }
}
