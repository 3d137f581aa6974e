package script

// apiIntro opens docs/lua-api.md.
const apiIntro = `Scripts run with ` + "`echolot run FILE [ARGS]`" + ` or in the REPL (` + "`echolot`" + `).
`

// helpEntries document every name of the API; the examples are run by
// TestHelpExamples on the lab.
var helpEntries = []Entry{}
