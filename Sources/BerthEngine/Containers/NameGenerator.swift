/// Names for containers created without `--name`, "adjective_noun" as Docker users know
/// them ("calm_harbor"). Berth's own word lists: sea and harbour words.
enum NameGenerator {
  static let adjectives = [
    "amber", "ancient", "azure", "blithe", "bold", "brave", "breezy", "bright", "brisk", "calm",
    "candid", "clever", "coastal", "cobalt", "cool", "coral", "crisp", "dapper", "daring", "deep",
    "distant", "eager", "early", "easy", "elegant", "fair", "fearless", "fleet", "fond", "friendly",
    "gallant", "gentle", "gleaming", "golden", "grand", "happy", "hardy", "hearty", "hidden", "honest",
    "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid", "lucky", "mellow", "merry",
    "mighty", "misty", "modest", "nautical", "nimble", "noble", "patient", "peaceful", "polar", "proud",
    "quick", "quiet", "rapid", "ready", "restless", "rugged", "salty", "serene", "sharp", "silent",
    "silver", "sleek", "smooth", "snug", "sober", "solid", "spry", "stately", "steady", "stoic",
    "stout", "sturdy", "sunny", "swift", "tidal", "tranquil", "trusty", "upbeat", "valiant", "vivid",
    "wandering", "warm", "wary", "wise", "witty", "zealous",
  ]

  static let nouns = [
    "albatross", "anchor", "atoll", "bay", "beacon", "bollard", "bow", "breakwater", "buoy", "cabin",
    "canal", "cape", "capstan", "cargo", "channel", "clipper", "compass", "cormorant", "cove", "crane",
    "current", "cutter", "delta", "dinghy", "dock", "dolphin", "drift", "estuary", "ferry", "fjord",
    "fleet", "galley", "gannet", "gull", "harbor", "hawser", "headland", "heron", "hull", "inlet",
    "island", "jetty", "keel", "kelp", "ketch", "lagoon", "lantern", "lighthouse", "lock", "mainsail",
    "marina", "mast", "mooring", "narwhal", "orca", "otter", "oyster", "pelican", "pier", "pilot",
    "port", "puffin", "quay", "reef", "rigging", "rudder", "sail", "schooner", "seal", "shoal",
    "sloop", "sound", "starfish", "stern", "strait", "tern", "tide", "trawler", "tugboat", "wake",
    "walrus", "wharf", "whale", "windlass", "yacht", "yardarm",
  ]

  /// A random name; `attempt` > 0 adds a digit, as Docker does after a clash.
  static func make(attempt: Int = 0) -> String {
    let adjective = adjectives.randomElement() ?? "calm"
    let noun = nouns.randomElement() ?? "harbor"
    let name = adjective + "_" + noun
    return attempt > 0 ? name + String(Int.random(in: 0...9)) : name
  }
}
