import BerthOS
import Testing

@testable import BerthBuild

@Suite("Variable substitution")
struct WordExpanderTests {
  static let environment = ["FOO": "/bar", "EMPTY": "", "NAME": "world", "SPACED": "a  b", "str": "foobarbaz", "path": "/usr/local/bin/app.tar.gz"]

  static let cases: [(String, String)] = [
    // Docker's documented examples.
    ("${FOO}", "/bar"),
    ("$FOO", "/bar"),
    (#"\$FOO"#, "$FOO"),
    ("${FOO}/baz", "/bar/baz"),
    ("$FOO/baz", "/bar/baz"),
    ("${UNSET:-word}", "word"),
    ("${FOO:-word}", "/bar"),
    ("${EMPTY:-word}", "word"),
    ("${EMPTY-word}", ""),
    ("${UNSET-word}", "word"),
    ("${FOO:+word}", "word"),
    ("${UNSET:+word}", ""),
    ("${EMPTY:+word}", ""),
    ("${EMPTY+word}", "word"),
    ("${str#f*b}", "arbaz"),
    ("${str##f*b}", "az"),
    ("${str%b*}", "foobar"),
    ("${str%%b*}", "foo"),
    ("${str/ba/fo}", "fooforbaz"),
    ("${str//ba/fo}", "fooforfoz"),
    // More patterns.
    ("${path##*/}", "app.tar.gz"),
    ("${path%/*}", "/usr/local/bin"),
    ("${path%%.*}", "/usr/local/bin/app"),
    ("${path#*.}", "tar.gz"),
    ("${str#x}", "foobarbaz"),
    ("${str/[ab]/_}", "foobarbaz"),
    ("${str//[ab]/}", "foobarbaz"),
    ("${str#?}", "oobarbaz"),
    ("${str/?a/_}", "foo_rbaz"),
    ("${str//?a/_}", "foo_r_z"),
    ("${path#*/}", "usr/local/bin/app.tar.gz"),
    ("${str/b*/}", "foo"),
    ("${str//a/\\/}", "foob\\/rb\\/z"),
    (#"${str#foo\*}"#, "foobarbaz"),
    ("${UNSET#x}", ""),
    ("${str/o/}", "fobarbaz"),
    // Unset is empty; names; lone dollars.
    ("$UNSET", ""),
    ("a${UNSET}b", "ab"),
    ("$NAME.txt", "world.txt"),
    ("$NAME_x", ""),
    ("${NAME}_x", "world_x"),
    ("$", "$"),
    ("a$ b", "a$ b"),
    ("$/x", "$/x"),
    ("$1x", "x"),
    ("cost: 5$", "cost: 5$"),
    // Quotes: single quotes protect, double quotes expand, both are removed.
    ("'$FOO'", "$FOO"),
    ("\"$FOO\"", "/bar"),
    ("\"a 'b' $NAME\"", "a 'b' world"),
    ("'a \"b\"'", "a \"b\""),
    ("x\"y\"'z'", "xyz"),
    (#""\$FOO \" \\ \n""#, #"$FOO " \ \n"#),
    (#"'\n'"#, #"\n"#),
    // The escape character quotes the next one; a trailing one is dropped.
    (#"a\ b"#, "a b"),
    (#"\'x\'"#, "'x'"),
    (#"\\"#, #"\"#),
    (#"abc\"#, "abc"),
    // Nested and quoted defaults.
    ("${UNSET:-${NAME}}", "world"),
    ("${UNSET:-\"$NAME x\"}", "world x"),
    ("${UNSET:-'$NAME'}", "$NAME"),
    ("${UNSET:-a}b}", "ab}"),
    ("${FOO:+${NAME:-x}/y}", "world/y"),
    ("$SPACED", "a  b"),
  ]

  @Test("expansion of one word", arguments: cases)
  func expand(_ word: String, _ expected: String) throws {
    #expect(try WordExpander().expand(word, environment: Self.environment) == expected)
  }

  @Test("backtick as the escape character")
  func backtick() throws {
    let expander = WordExpander(escape: "`")
    #expect(try expander.expand("C:\\dir\\$NAME", environment: Self.environment) == "C:\\dir\\world")
    #expect(try expander.expand("`$NAME", environment: Self.environment) == "$NAME")
    #expect(try expander.expand("\"a`\"b\"", environment: [:]) == "a\"b")
  }

  static let errors: [(String, String)] = [
    ("${FOO", "syntax error: missing '}'"),
    ("${FOO:-x", "syntax error: missing '}'"),
    ("${", "syntax error: missing '}'"),
    ("${}", "syntax error: bad substitution"),
    ("${:-x}", "syntax error: bad substitution"),
    ("${{x}}", "syntax error: bad substitution"),
    ("${FOO:x}", "unsupported modifier in substitution ${FOO:...}: use :- :+ or :?"),
    ("${FOO^x}", "unsupported modifier (^) in substitution ${FOO...}"),
    ("'open", "unexpected end of statement while looking for matching single-quote"),
    ("\"open", "unexpected end of statement while looking for matching double-quote"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${UNSET:?must be set}", "UNSET: must be set"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("${str/o}", "syntax error: missing '/' in ${}"),
    ("${str#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
  ]

  @Test("expansion errors name the word", arguments: errors)
  func expansionError(_ word: String, _ message: String) {
    #expect(throws: BerthError(.invalidArgument, "failed to process \"\(word)\": " + message)) {
      try WordExpander().expand(word, environment: Self.environment)
    }
  }

  @Test("? passes set values")
  func questionMark() throws {
    #expect(try WordExpander().expand("${EMPTY?}", environment: Self.environment) == "")
    #expect(try WordExpander().expand("${FOO:?x}", environment: Self.environment) == "/bar")
  }

  @Test("field splitting", arguments: [
    ("a b", ["a", "b"]),
    ("$SPACED", ["a", "b"]),
    ("\"$SPACED\"", ["a  b"]),
    ("x$SPACED", ["xa", "b"]),
    (#"a\ b c"#, ["a b", "c"]),
    ("'' x", ["x"]),
    ("$UNSET", []),
    ("80/tcp  $NAME", ["80/tcp", "world"]),
  ])
  func fields(_ word: String, _ expected: [String]) throws {
    #expect(try WordExpander().expandFields(word, environment: Self.environment) == expected)
  }

  @Test("names a word refers to")
  func referencedNames() {
    let expander = WordExpander()
    #expect(expander.referencedNames(in: "$A ${B:-$C} '$D' \"$E\" \\$F ${G#x}") == ["A", "B", "C", "E", "G"])
    #expect(expander.referencedNames(in: "plain") == [])
  }

  @Test("heredoc bodies keep quotes; backslashes quote as in Docker")
  func heredocBodies() throws {
    let expander = WordExpander()
    let body = "echo \"$NAME\" '$NAME' \\$NAME a\\tb\n"
    #expect(try expander.expandHeredoc(body, environment: Self.environment) == "echo \"world\" 'world' $NAME atb\n")
    // The escape directive does not change heredoc bodies: `\` is their escape character.
    #expect(try WordExpander(escape: "`").expandHeredoc("`$NAME \\$NAME", environment: Self.environment) == "`world $NAME")
  }

  /// Behaviours of Docker's (BuildKit's) lexer for patterns, checked case by case.
  static let patternCases: [([String: String], String, String)] = [
    (["FOO": "()[]{}^$.*?|\\x"], #"${FOO#()[]{\}^$.\*\?|\\}"#, "x"),
    (["FOO": "xx**"], #"${FOO%%\**}"#, "xx"),
    (["FOO": "xxyy"], "${FOO#*x*y}", "y"),
    (["FOO": "xxyy"], "${FOO#*}", "xxyy"),
    (["FOO": "xxyy", "BAR": "x"], "${FOO#$BAR}", "xyy"),
    (["FOO": "xxyy", "BAR": ""], "${FOO#$BAR}", "xxyy"),
    (["FOO": "xxyy"], "${FOO##*x}", "yy"),
    (["FOO": "xxyy"], "${FOO##}", "xxyy"),
    (["FOO": "???y"], #"${FOO#?\?}"#, "?y"),
    (["FOO": "xxyy"], "${ABC:-.}${FOO%x}${ABC:-.}", ".xxyy."),
    (["FOO": "a***yy*"], #"${FOO%%\**\*}"#, "a"),
    (["FOO": "/foo*/*/*.txt", "NEEDLE": #"\*/"#], "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", "/foo.*/*.txt - /foo..*.txt"),
    (["FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"], "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", "/tmp/bar.txt - /bar.txt"),
    (["FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "R": "/"], "${FOO/$NEEDLE/$R} - ${FOO//$NEEDLE/$R}", "/foo/b/c.txt - /foo/c.txt"),
    (["FOO": "http://google.de", "N": "http://", "R": "https://"], "${FOO/$N/$R}", "https://google.de"),
    (["FOO": "/tmp/foo.txt"], #"${FOO//\//\/}"#, #"\/tmp\/foo.txt"#),
    (["FOO": "xxyy", "BAR": ""], "${FOO/$BAR/ww}", "wwxxyy"),
    (["FOO": "xxyy"], "${FOO///}", "xxyy"),
    ([:], "${FOO///}", ""),
    (["V": "1.2", "OS": "linux", "ARCH": "arm", "VARIANT": "v7"], "x-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz", "x-1.2.linux-arm-v7.tgz"),
    (["V": "1.2", "OS": "linux", "ARCH": "amd64"], "x-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz", "x-1.2.linux-amd64.tgz"),
    (["FOO": "xxx", "BAR": ""], "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", "xxx  ccc"),
    (["FOO": "xxx", "BAR": ""], "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", "xxx bbb ccc"),
    (["FOO": "xxx", "BAR": ""], "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", "aaa bbb "),
    (["FOO": "xxx", "BAR": ""], "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", "aaa  "),
  ]

  @Test("Docker's lexer behaviours", arguments: patternCases)
  func dockerBehaviour(_ environment: [String: String], _ word: String, _ expected: String) throws {
    #expect(try WordExpander().expand(word, environment: environment) == expected)
  }

  @Test("Docker's lexer errors", arguments: ["${FOO=aaa}", "${FOO=:aaa}", "${FOO=}", "${FOO//ww}", "${FOO//}", "${BAZ?ccc}", "${BAR:?bbb}", "${VAR:?message here$ARG}"])
  func dockerErrors(_ word: String) {
    #expect(throws: BerthError.self) {
      try WordExpander().expand(word, environment: ["FOO": "xxyy", "BAR": "", "ARG": "x"])
    }
  }

  @Test("a ? message is expanded")
  func questionMessage() {
    #expect(throws: BerthError(.invalidArgument, #"failed to process "${VAR:?message here$ARG}": VAR: message herex"#)) {
      try WordExpander().expand("${VAR:?message here$ARG}", environment: ["VAR": "", "ARG": "x"])
    }
  }
}
