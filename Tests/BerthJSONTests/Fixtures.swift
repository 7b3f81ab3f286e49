import BerthJSON

// A cut-down OCI runtime-spec model: enough shapes (optionals, arrays, dictionaries,
// raw-value enums, nested structs, 64-bit integers) to exercise the coders realistically.

struct Spec: Codable, Equatable {
  var ociVersion: String
  var process: Process?
  var root: Root?
  var hostname: String?
  var mounts: [Mount]?
  var annotations: [String: String]?
  var linux: Linux?
}

struct Process: Codable, Equatable {
  var terminal: Bool?
  var user: User
  var args: [String]
  var env: [String]?
  var cwd: String
  var capabilities: Capabilities?
  var rlimits: [Rlimit]?
  var noNewPrivileges: Bool?
  var oomScoreAdj: Int?
}

struct User: Codable, Equatable {
  var uid: UInt32
  var gid: UInt32
  var additionalGids: [UInt32]?
}

struct Capabilities: Codable, Equatable {
  var bounding: [String]?
  var effective: [String]?
  var permitted: [String]?
}

struct Rlimit: Codable, Equatable {
  var type: String
  var hard: UInt64
  var soft: UInt64
}

struct Root: Codable, Equatable {
  var path: String
  var readonly: Bool?
}

struct Mount: Codable, Equatable {
  var destination: String
  var type: String?
  var source: String?
  var options: [String]?
}

struct Linux: Codable, Equatable {
  var uidMappings: [IDMapping]?
  var sysctl: [String: String]?
  var resources: Resources?
  var cgroupsPath: String?
  var namespaces: [Namespace]?
  var maskedPaths: [String]?
  var readonlyPaths: [String]?
}

struct IDMapping: Codable, Equatable {
  var containerID: UInt32
  var hostID: UInt32
  var size: UInt32
}

struct Namespace: Codable, Equatable {
  var type: NamespaceType
  var path: String?
}

enum NamespaceType: String, Codable, Equatable {
  case pid, network, mount, ipc, uts, user, cgroup, time
}

struct Resources: Codable, Equatable {
  var devices: [DeviceRule]?
  var memory: Memory?
  var cpu: CPU?
  var pids: Pids?
  var unified: [String: String]?
}

struct DeviceRule: Codable, Equatable {
  var allow: Bool
  var type: String?
  var major: Int64?
  var minor: Int64?
  var access: String?
}

struct Memory: Codable, Equatable {
  var limit: Int64?
  var reservation: Int64?
  var swap: Int64?
  var swappiness: UInt64?
  var disableOOMKiller: Bool?
}

struct CPU: Codable, Equatable {
  var shares: UInt64?
  var quota: Int64?
  var period: UInt64?
  var cpus: String?
}

struct Pids: Codable, Equatable {
  var limit: Int64
}

/// A realistic config.json (about 3 KB), in runc's pretty layout, with only fields `Spec`
/// models so that decoding and re-encoding gives back the same document.
let sampleConfig = """
  {
    "ociVersion": "1.0.2-dev",
    "process": {
      "terminal": true,
      "user": {
        "uid": 0,
        "gid": 0,
        "additionalGids": [
          10,
          4294967295
        ]
      },
      "args": [
        "sh",
        "-c",
        "echo \\"hello\\" > /tmp/out\\n"
      ],
      "env": [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm",
        "GREETING=h\\u00e9llo \\ud83d\\ude00"
      ],
      "cwd": "/",
      "capabilities": {
        "bounding": [
          "CAP_AUDIT_WRITE",
          "CAP_KILL",
          "CAP_NET_BIND_SERVICE"
        ],
        "effective": [
          "CAP_AUDIT_WRITE",
          "CAP_KILL",
          "CAP_NET_BIND_SERVICE"
        ],
        "permitted": []
      },
      "rlimits": [
        {
          "type": "RLIMIT_NOFILE",
          "hard": 20000,
          "soft": 1024
        },
        {
          "type": "RLIMIT_CORE",
          "hard": 18446744073709551615,
          "soft": 18446744073709551615
        }
      ],
      "noNewPrivileges": true,
      "oomScoreAdj": -500
    },
    "root": {
      "path": "rootfs",
      "readonly": true
    },
    "hostname": "runc",
    "mounts": [
      {
        "destination": "/proc",
        "type": "proc",
        "source": "proc"
      },
      {
        "destination": "/dev",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": [
          "nosuid",
          "strictatime",
          "mode=755",
          "size=65536k"
        ]
      },
      {
        "destination": "/dev/pts",
        "type": "devpts",
        "source": "devpts",
        "options": [
          "nosuid",
          "noexec",
          "newinstance",
          "ptmxmode=0666",
          "mode=0620",
          "gid=5"
        ]
      },
      {
        "destination": "/sys/fs/cgroup",
        "type": "cgroup",
        "source": "cgroup",
        "options": [
          "nosuid",
          "noexec",
          "nodev",
          "relatime",
          "ro"
        ]
      }
    ],
    "annotations": {
      "io.kubernetes.cri.sandbox-id": "0123456789abcdef",
      "org.opencontainers.image.ref.name": "busybox:latest"
    },
    "linux": {
      "uidMappings": [
        {
          "containerID": 0,
          "hostID": 100000,
          "size": 65536
        }
      ],
      "sysctl": {
        "net.ipv4.ip_forward": "1"
      },
      "resources": {
        "devices": [
          {
            "allow": false,
            "access": "rwm"
          },
          {
            "allow": true,
            "type": "c",
            "major": 1,
            "minor": 3,
            "access": "rwm"
          }
        ],
        "memory": {
          "limit": 536870912,
          "reservation": -1,
          "swap": 9223372036854775807,
          "swappiness": 60,
          "disableOOMKiller": false
        },
        "cpu": {
          "shares": 1024,
          "quota": -1,
          "period": 100000,
          "cpus": "0-1"
        },
        "pids": {
          "limit": 1024
        },
        "unified": {
          "io.weight": "default 100",
          "memory.high": "max"
        }
      },
      "cgroupsPath": "/berth/test",
      "namespaces": [
        {
          "type": "pid"
        },
        {
          "type": "network",
          "path": "/var/run/netns/test"
        },
        {
          "type": "ipc"
        },
        {
          "type": "uts"
        },
        {
          "type": "mount"
        },
        {
          "type": "cgroup"
        }
      ],
      "maskedPaths": [
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/sys/firmware"
      ],
      "readonlyPaths": [
        "/proc/bus",
        "/proc/fs",
        "/proc/sys"
      ]
    }
  }
  """

/// Parses a fixture, failing the test (not crashing) if the fixture itself is broken.
func parsed(_ text: String) throws -> JSONValue {
  try JSON.parse(text)
}
