// The public types of the lower layers that the API hands out or takes, re-exported so that
// `import CowDB` is all a user writes. Everything else in those modules is `package`.
@_exported import enum CowDBFormat.CowDBError
@_exported import struct CowDBFormat.Tag
@_exported import struct CowDBStorage.POSIXStorage
@_exported import class CowDBStorage.MappedRegion
@_exported import protocol CowDBStorage.StorageFile
@_exported import protocol CowDBStorage.StorageBackend
@_exported import struct CowDBTree.CheckProblem
