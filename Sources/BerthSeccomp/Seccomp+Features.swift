#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import CLinux
import CSeccomp

extension Seccomp {
  /// What `berth-runtime features` reports under `linux.seccomp`.
  ///
  /// `actions` are the runtime-spec actions this kernel supports (SECCOMP_GET_ACTION_AVAIL),
  /// `archs` those libseccomp supports, `knownFlags` the flags Berth understands, and
  /// `supportedFlags` those this kernel accepts (probed as runc does: seccomp(2) with a NULL
  /// program fails with EFAULT for a supported flag and EINVAL for an unknown one).
  public static func features() -> Features.Seccomp {
    // PR_GET_SECCOMP fails with EINVAL when the kernel has no seccomp.
    let enabled = berth_prctl(Kernel.prGetSeccomp, 0, 0, 0, 0) >= 0
    let actions = SeccompAction.allCases.filter { kernelSupportsAction($0) }.map(\.rawValue)
    let operators = SeccompOperator.allCases.map(\.rawValue)
    let archs = SeccompArchitecture.all.filter { $0.token != nil }.map(\.ociName)
    let known = SeccompFlagInfo.all.map(\.name)
    let supported = SeccompFlagInfo.all.filter { kernelSupportsFlag($0.bit) }.map(\.name)
    return Features.Seccomp(
      enabled: enabled, actions: actions, operators: operators, archs: archs, knownFlags: known,
      supportedFlags: supported)
  }

  /// SECCOMP_GET_ACTION_AVAIL for the action's return value.
  static func kernelSupportsAction(_ action: SeccompAction) -> Bool {
    var value: UInt32
    switch action {
    case .kill, .killThread: value = Kernel.retKillThread
    case .killProcess: value = Kernel.retKillProcess
    case .trap: value = Kernel.retTrap
    case .errno: value = Kernel.retErrno
    case .trace: value = Kernel.retTrace
    case .allow: value = Kernel.retAllow
    case .log: value = Kernel.retLog
    case .notify: value = Kernel.retUserNotif
    }
    return withUnsafePointer(to: &value) { seccompSyscall(Kernel.getActionAvail, 0, $0) } == 0
  }

  /// seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL): the kernel checks the flags before it reads
  /// the program, so EFAULT means "known flag" and EINVAL "unknown". Needs no privilege and
  /// installs nothing. WAIT_KILLABLE_RECV is only valid with NEW_LISTENER, so it is probed with it.
  static func kernelSupportsFlag(_ flag: UInt32) -> Bool {
    var flags = flag
    if flag == Kernel.flagWaitKillableRecv { flags |= Kernel.flagNewListener }
    let result = seccompSyscall(Kernel.setModeFilter, flags, nil)
    return result < 0 && berth_errno() == EFAULT
  }
}
