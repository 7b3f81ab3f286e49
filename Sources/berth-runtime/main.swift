#if canImport(Glibc)
import Glibc
#endif
import BerthRuntime

exit(RuntimeCLI.main(CommandLine.arguments))
