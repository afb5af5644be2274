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
        try Confirmation.ask(
            "This deletes \(what); it cannot be undone. Delete? [y/N] ",
            declined: "nothing deleted: \(what) was not confirmed (answer y, or pass --yes)")
    }

    /// Throws when there is neither `--yes` nor a terminal to ask on: for a command that must find out
    /// more (a count) before it can ask, so that a script is refused before anything is opened.
    func refuseUnlessAskable(_ what: String) throws {
        guard !yes, !Confirmation.canAsk else { return }
        throw CommandError(
            "not deleting \(what) without confirmation: standard input is not a terminal, so nobody can be asked; "
                + "pass --yes to delete it")
    }

    /// An id the user typed, quoted and safe to show on the terminal.
    static func quoted(_ id: String) -> String { "'" + TerminalText.printable(id) + "'" }
}

/// `--yes` for a command that replaces an enrolled face (`nec subjects update`, `nec events update`,
/// `neocheck records update --face`): the face it replaces cannot be brought back, and a mistyped id
/// would put one person's face on another's enrolment (the door then lets the wrong person in as them).
/// Asked as `DeletionConfirmation` asks: at a terminal; refused without one unless `--yes`.
struct ReplacementConfirmation: ParsableArguments {
    @Flag(
        name: [.customShort("y"), .long],
        help: ArgumentHelp(
            "Replace the face without asking (for scripts).",
            discussion: "Without it the command asks on a terminal, and refuses when standard input is not one."))
    var yes = false

    /// Returns when replacing `what` ("the enrolled face of the NEC ID subject 'S'") is confirmed; throws
    /// otherwise, before anything is sent.
    func confirm(_ what: String) throws {
        if yes { return }
        guard Confirmation.canAsk else {
            throw CommandError(
                "not replacing \(what) without confirmation: standard input is not a terminal, so nobody can be asked; "
                    + "pass --yes to replace it")
        }
        try Confirmation.ask(
            "This replaces \(what); the face it replaces cannot be brought back. Replace? [y/N] ",
            declined: "nothing replaced: \(what) was not confirmed (answer y, or pass --yes)")
    }
}

/// The question both confirmations ask at the terminal.
enum Confirmation {
    /// Whether someone can be asked: standard input is a terminal.
    static var canAsk: Bool { isatty(STDIN_FILENO) == 1 }

    /// Asks `question` on standard error; returns on `y`/`yes`, throws `declined` otherwise.
    static func ask(_ question: String, declined: String) throws {
        FileHandle.standardError.write(Data(question.utf8))
        let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces).lowercased()
        guard answer == "y" || answer == "yes" else { throw CommandError(declined) }
    }
}

/// A delete whose retry found nothing: the attempt before got no answer (a timeout, a gateway's 502) and may
/// have been what deleted it. Gone either way, which is what was asked: said on standard error, and done
/// (exit 0). A "not found" at the first attempt stays a failure (a mistyped id).
func noteGoneAfterRetry(_ what: String) {
    FileHandle.standardError.write(
        Data(
            ("note: \(what): not found when the call was tried again; the attempt before got no answer and may have been "
                + "what deleted it: it is not there now\n").utf8))
}
