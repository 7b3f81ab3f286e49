import Testing
@testable import BerthBuild
