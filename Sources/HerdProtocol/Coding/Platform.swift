// HerdProtocol uses FoundationEssentials where the toolchain has it, so the agent stays free of ICU.
#if canImport(FoundationEssentials)
    @_exported import FoundationEssentials
#else
    @_exported import Foundation
#endif
