import ArgumentParser
import FacegateCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `--yes` for a command that deletes what cannot be brought back (a gallery and its applications, every
/// enrolment of a subject, the offline cache): a mistyped id must not delete a site's people in one call.
///
/// Without `--yes` the person at the terminal is asked, shown what is deleted by kind and id (never a
/// secret, never a setting); when standard input is not a terminal nobody can be asked, and the command
/// refuses (exit 1, nothing deleted), saying to pass `--yes`. Scripts pass `--yes`.
struct DeletionConfirmation: ParsableArguments {
    @Flag(
        name: [.customShort("y"), .long],
        help: ArgumentHelp(
            "Delete without asking (for scripts).",
            discussion: "Without it the command asks on a terminal, and refuses when standard input is not one."))
    var yes = false

    /// Returns when the deletion of `what` is confirmed, by `--yes` or by the answer `y`/`yes` at the
    /// terminal; throws otherwise, before anything is sent or opened. `what` names kind and id, e.g.
    /// "the NEC ID gallery 1234 and its applications"; text typed by the user in it is escaped.
    func confirm(_ what: String) throws {
        if yes { return }
        try refuseUnlessAskable(what)
        FileHandle.standardError.write(Data("This deletes \(what); it cannot be undone. Delete? [y/N] ".utf8))
        let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces).lowercased()
        guard answer == "y" || answer == "yes" else {
            throw CommandError("nothing deleted: \(what) was not confirmed (answer y, or pass --yes)")
        }
    }

    /// Throws when there is neither `--yes` nor a terminal to ask on: for a command that must find out
    /// more (a count) before it can ask, so that a script is refused before anything is opened.
    func refuseUnlessAskable(_ what: String) throws {
        guard !yes, isatty(STDIN_FILENO) != 1 else { return }
        throw CommandError(
            "not deleting \(what) without confirmation: standard input is not a terminal, so nobody can be asked; "
                + "pass --yes to delete it")
    }

    /// An id the user typed, quoted and safe to show on the terminal.
    static func quoted(_ id: String) -> String { "'" + TerminalText.printable(id) + "'" }
}
