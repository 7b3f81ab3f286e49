import Testing
@testable import BerthNetwork
