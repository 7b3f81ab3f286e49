#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import BerthRuntime

StartTrace.mark("main")
StartTrace.mark("main2")

exit(RuntimeCLI.main(CommandLine.arguments))
