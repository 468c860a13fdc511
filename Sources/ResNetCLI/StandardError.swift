import Foundation

/// Writes a line to standard error (warnings and errors; standard output carries results).
func printError(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}
