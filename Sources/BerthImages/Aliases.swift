import BerthOCI

/// swift-crypto also declares a `Digest` (a protocol); in this module the name means ours.
public typealias Digest = BerthOCI.Digest
