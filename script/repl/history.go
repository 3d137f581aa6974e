package repl

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// history is the REPL's input history: entries in memory, appended to a
// file one a line.
type history struct {
	entries []string
	f       *os.File // nil: no file
	stderr  io.Writer
}

// DefaultHistoryFile is $XDG_STATE_HOME/echolot/history, or
// ~/.local/state/echolot/history; "" when neither is known.
func DefaultHistoryFile() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "echolot", "history")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "state", "echolot", "history")
}

// openHistory reads the history file at path (default
// DefaultHistoryFile, "-" none), creating it with mode 0600. A file that
// cannot be used is reported once on stderr and the REPL goes on without
// it.
func openHistory(path string, stderr io.Writer) *history {
	h := &history{stderr: stderr}
	if path == "" {
		path = DefaultHistoryFile()
	}
	if path == "" || path == "-" {
		return h
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		fmt.Fprintf(stderr, "echolot: history not kept: %v\n", err)
		return h
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "echolot: history not kept: %v\n", err)
		return h
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		if e := strings.TrimSpace(sc.Text()); e != "" {
			h.entries = append(h.entries, e)
		}
	}
	if len(h.entries) > historyLimit {
		h.entries = h.entries[len(h.entries)-historyLimit:]
	}
	h.f = f
	if n > 2*historyLimit {
		h.rewrite(path)
	}
	return h
}

// rewrite replaces the file with the entries kept, so that it does not
// grow without bound.
func (h *history) rewrite(path string) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	w := bufio.NewWriter(f)
	for _, e := range h.entries {
		w.WriteString(e + "\n")
	}
	if w.Flush() != nil || os.Rename(tmp, path) != nil {
		f.Close()
		os.Remove(tmp)
		return
	}
	h.f.Close()
	h.f = f
}

// add records the lines of one input: as one entry when they can be
// joined into one line that means the same to Lua, else line by line.
func (h *history) add(lines []string) {
	var entries []string
	if len(lines) == 1 {
		entries = []string{strings.TrimSpace(lines[0])}
	} else if j, ok := joinLines(lines); ok {
		entries = []string{j}
	} else {
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				entries = append(entries, l)
			}
		}
	}
	for _, e := range entries {
		if e == "" || len(h.entries) > 0 && h.entries[len(h.entries)-1] == e {
			continue
		}
		h.entries = append(h.entries, e)
		if len(h.entries) > historyLimit {
			h.entries = h.entries[1:]
		}
		if h.f != nil {
			if _, err := h.f.WriteString(e + "\n"); err != nil {
				fmt.Fprintf(h.stderr, "echolot: history not kept: %v\n", err)
				h.f.Close()
				h.f = nil
			}
		}
	}
}

func (h *history) close() {
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

// joinLines makes one line of a multi-line Lua chunk: line breaks become
// spaces and comments are dropped. It fails when a line break is part of
// a string (a long string, or a backslash-newline escape).
func joinLines(lines []string) (string, bool) {
	src := strings.Join(lines, "\n")
	var b strings.Builder
	space := func() { // one blank for any run of them
		if b.Len() > 0 && !strings.HasSuffix(b.String(), " ") {
			b.WriteByte(' ')
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n' || c == ' ' || c == '\t' || c == '\r':
			space()
			i++
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			if n := longBracket(src[i+2:]); n >= 0 {
				end := strings.Index(src[i+2+n:], "]"+strings.Repeat("=", n-2)+"]")
				if end < 0 {
					return "", false
				}
				i += 2 + n + end + n // a long comment
			} else if nl := strings.IndexByte(src[i:], '\n'); nl >= 0 {
				i += nl // a comment to the end of the line
			} else {
				i = len(src)
			}
			space()
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\n' {
					return "", false
				}
				if src[j] == '\\' {
					j++
					if j < len(src) && src[j] == '\n' {
						return "", false
					}
				}
				j++
			}
			if j < len(src) {
				j++
			}
			b.WriteString(src[i:j])
			i = j
		case c == '[' && longBracket(src[i:]) >= 0:
			n := longBracket(src[i:])
			end := strings.Index(src[i+n:], "]"+strings.Repeat("=", n-2)+"]")
			if end < 0 {
				return "", false
			}
			s := src[i : i+n+end+n]
			if strings.Contains(s, "\n") {
				return "", false
			}
			b.WriteString(s)
			i += len(s)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return strings.TrimSpace(b.String()), true
}

// longBracket returns the length of the opening long bracket ("[[",
// "[==[") that s starts with, or -1.
func longBracket(s string) int {
	if !strings.HasPrefix(s, "[") {
		return -1
	}
	j := 1
	for j < len(s) && s[j] == '=' {
		j++
	}
	if j < len(s) && s[j] == '[' {
		return j + 1
	}
	return -1
}
