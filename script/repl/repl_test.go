package repl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/echolot/echolot/script"
)

// The tests run the REPL in a child process (this test binary again, see
// TestMain) on a pseudo-terminal, type at it and read its screen output.
// They send no packets.

const childEnv = "ECHOLOT_REPL_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child is the REPL as cmd/echolot runs it.
func child() int {
	in, err := script.New(script.Options{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer in.Close()
	return Run(context.Background(), in, Options{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		HistoryFile: os.Getenv("ECHOLOT_REPL_TEST_HISTORY"),
		Version:     "test",
	})
}

// deadline bounds every wait for output: generous, it is no timing
// assertion.
const deadline = 20 * time.Second

// term is a child REPL on a pseudo-terminal.
type term struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	done   chan struct{} // closed when the child has exited
	code   int

	mu   sync.Mutex
	out  bytes.Buffer // everything the child wrote
	mark int          // Expect searches from here
}

// startTerm starts the REPL on a new pseudo-terminal of 100×40, with its
// history in histFile.
func startTerm(t *testing.T, histFile string) *term {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("ptsname: %v", err)
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}); err != nil {
		master.Close()
		t.Fatalf("window size: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatalf("open pts: %v", err)
	}
	defer slave.Close()

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "ECHOLOT_REPL_TEST_HISTORY="+histFile, "TERM=xterm", "HOME="+t.TempDir())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		master.Close()
		t.Fatalf("start the REPL: %v", err)
	}
	tm := &term{t: t, master: master, cmd: cmd, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		tm.code = cmd.ProcessState.ExitCode()
		close(tm.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			cmd.Process.Kill()
			<-tm.done
		}
		master.Close()
		if t.Failed() {
			t.Logf("screen output:\n%s", tm.screen(0))
		}
	})
	tm.expect("echolot test Lua REPL")
	tm.expect("> ")
	return tm
}

var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|[()][0-9A-B]|[=>])`)

// screen is the output from offset on without escape sequences and
// carriage returns.
func (tm *term) screen(from int) string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	s := tm.out.String()
	if from > len(s) {
		from = len(s)
	}
	return strings.ReplaceAll(ansi.ReplaceAllString(s[from:], ""), "\r", "")
}

// send types s.
func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.master.Write([]byte(s)); err != nil {
		tm.t.Fatalf("typing %q: %v", s, err)
	}
}

// expect waits until the output after the mark shows want, and moves the
// mark past it. It returns the output from the mark to the end of want.
func (tm *term) expect(want string) string {
	tm.t.Helper()
	end := time.Now().Add(deadline)
	for {
		tm.mu.Lock()
		raw := tm.out.Bytes()[tm.mark:]
		tm.mu.Unlock()
		// Search the cleaned text, then find the raw offset to move the
		// mark to: the raw bytes are cleaned up to each candidate cut.
		clean := strings.ReplaceAll(ansi.ReplaceAllString(string(raw), ""), "\r", "")
		if i := strings.Index(clean, want); i >= 0 {
			for cut := 0; cut <= len(raw); cut++ {
				c := strings.ReplaceAll(ansi.ReplaceAllString(string(raw[:cut]), ""), "\r", "")
				if len(c) >= i+len(want) && strings.Contains(c, want) {
					tm.mark += cut
					return c
				}
			}
		}
		select {
		case <-tm.done:
			tm.t.Fatalf("the REPL exited (code %d) before showing %q; after the mark:\n%s", tm.code, want, clean)
		default:
		}
		if time.Now().After(end) {
			tm.t.Fatalf("no %q within %v; after the mark:\n%s", want, deadline, clean)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run types line and Enter and returns the output up to the next primary
// prompt.
func (tm *term) run(line string) string {
	tm.t.Helper()
	tm.send(line + "\r")
	tm.expect(line) // the echo
	return tm.expect("\n> ")
}

// exitCode waits for the child to exit.
func (tm *term) exitCode() int {
	tm.t.Helper()
	select {
	case <-tm.done:
		return tm.code
	case <-time.After(deadline):
		tm.t.Fatalf("the REPL did not exit within %v", deadline)
	}
	return -1
}

func TestExpressionsPrintTheirValues(t *testing.T) {
	tm := startTerm(t, "-")
	if out := tm.run("1+2"); !strings.Contains(out, "\n3\n") {
		t.Errorf("1+2 printed %q, want 3", out)
	}
	out := tm.run(`ip{dst="198.18.3.2"}/icmp{}`)
	if !strings.Contains(out, "198.18.3.2") || !strings.Contains(out, "ICMP echo-request") {
		t.Errorf("the packet printed %q, want its one-line summary", out)
	}
	if out := tm.run(`1, "two", nil`); !strings.Contains(out, "1\t\"two\"\tnil") {
		t.Errorf("three values printed %q", out)
	}
	if out := tm.run(`print("hi")`); !strings.Contains(out, "\nhi\n") || strings.Contains(out, "nil") {
		t.Errorf("print printed %q", out)
	}
}

func TestMultiLineInput(t *testing.T) {
	tm := startTerm(t, "-")
	tm.send("for i=1,3 do\r")
	tm.expect(ContinuationPrompt)
	tm.send("print(i*11)\r")
	tm.expect(ContinuationPrompt)
	out := tm.run("end")
	if !strings.Contains(out, "11\n22\n33\n") {
		t.Errorf("the loop printed %q", out)
	}
	// A string continued on the next line, and a function definition.
	tm.send("function twice(x)\r")
	tm.expect(ContinuationPrompt)
	tm.send("return 2*x\r")
	tm.expect(ContinuationPrompt)
	tm.run("end")
	if out := tm.run("twice(21)"); !strings.Contains(out, "\n42\n") {
		t.Errorf("twice(21) printed %q", out)
	}
}

func TestErrorsKeepTheREPL(t *testing.T) {
	tm := startTerm(t, "-")
	out := tm.run(`error("boom")`)
	if !strings.Contains(out, "stdin:1: boom") {
		t.Errorf("the error printed %q, want stdin:1: boom", out)
	}
	out = tm.run(`local t = nil; return t.x`)
	if !strings.Contains(out, "stdin:1:") {
		t.Errorf("indexing nil printed %q, want stdin:1:", out)
	}
	if out := tm.run("x = = 1"); !strings.Contains(out, "syntax error") {
		t.Errorf("a syntax error printed %q", out)
	}
	if out := tm.run("1+2"); !strings.Contains(out, "\n3\n") {
		t.Errorf("after the errors 1+2 printed %q", out)
	}
}

func TestTabCompletion(t *testing.T) {
	tm := startTerm(t, "-")
	// Two candidates with a common prefix: the first Tab writes it, the
	// second lists them, then one more letter and Tab complete one.
	tm.send("type(pattern.wa\t")
	tm.expect("pattern.walking_")
	tm.send("\t")
	tm.expect("walking_ones")
	tm.expect("walking_zeros")
	tm.send("o\t")
	tm.expect("walking_ones")
	if out := tm.run(")"); !strings.Contains(out, `"function"`) {
		t.Errorf("type(pattern.walking_ones) printed %q", out)
	}

	// No common prefix: the first Tab lists the candidates.
	tm.send("opt.r\t")
	tm.expect("raw")
	tm.expect("rr")
	tm.send("r(3)")
	if out := tm.run(""); !strings.Contains(out, "rr slots=3") {
		t.Errorf("opt.rr(3) printed %q", out)
	}

	// Fields of a packet's layer.
	tm.run(`p = ip{dst="198.18.3.2"}/icmp{seq=7}`)
	tm.send("p.icmp.se\t")
	tm.expect("p.icmp.seq")
	if out := tm.run(""); !strings.Contains(out, "\n7\n") {
		t.Errorf("p.icmp.seq printed %q", out)
	}
	// Methods after ':'.
	tm.send("p:he\t")
	tm.expect("p:hex")
	tm.send("\x03") // clear the line
	tm.expect("> ")
	// A global.
	tm.send("twe\t")
	tm.send("\x15") // Ctrl-U: nothing to complete, nothing breaks
	if out := tm.run("1+1"); !strings.Contains(out, "\n2\n") {
		t.Errorf("1+1 printed %q", out)
	}
}

func TestHistoryPersists(t *testing.T) {
	hist := filepath.Join(t.TempDir(), "state", "history")
	tm := startTerm(t, hist)
	tm.run("x = 41")
	tm.send("for i=1,2 do -- tens\r")
	tm.expect(ContinuationPrompt)
	tm.send("print(i*10)\r")
	tm.expect(ContinuationPrompt)
	tm.run("end")
	tm.send("\x04")
	if code := tm.exitCode(); code != 0 {
		t.Fatalf("Ctrl-D exited %d", code)
	}
	st, err := os.Stat(hist)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("history file mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(hist)
	want := "x = 41\nfor i=1,2 do print(i*10) end\n"
	if string(b) != want {
		t.Errorf("history file holds %q, want %q", b, want)
	}

	// A second session recalls both: Up brings the loop, Up again x = 41.
	tm = startTerm(t, hist)
	tm.send("\x1b[A")
	tm.expect("for i=1,2 do print(i*10) end")
	tm.send("\r")
	tm.expect("10\n20\n> ")
	tm.send("\x1b[A\x1b[A")
	tm.expect("x = 41")
	tm.send("\r")
	tm.expect("\n> ")
	if out := tm.run("x+1"); !strings.Contains(out, "\n42\n") {
		t.Errorf("x+1 after recalling x = 41 printed %q", out)
	}
	tm.send("\x04")
	if code := tm.exitCode(); code != 0 {
		t.Fatalf("Ctrl-D exited %d", code)
	}
	b, _ = os.ReadFile(hist)
	if want += "x = 41\nx+1\n"; !strings.HasSuffix(string(b), want) {
		t.Errorf("history file holds %q after the second session, want it to end in %q", b, want)
	}
}

func TestCtrlCCancelsTheCommand(t *testing.T) {
	tm := startTerm(t, "-")
	tm.send("print('sleeping'); sleep(30); print('woke')\r")
	tm.expect("sleeping\n")
	tm.send("\x03")
	out := tm.expect("\n> ")
	if !strings.Contains(out, "cancelled") || strings.Contains(out, "woke") {
		t.Errorf("Ctrl-C during sleep printed %q, want cancelled", out)
	}
	if out := tm.run("1+2"); !strings.Contains(out, "\n3\n") {
		t.Errorf("after the cancel 1+2 printed %q", out)
	}
}

func TestCtrlCClearsTheLine(t *testing.T) {
	tm := startTerm(t, "-")
	tm.send("1+")
	tm.expect("1+")
	tm.send("\x03")
	tm.expect("\n> ")
	if out := tm.run("2+3"); !strings.Contains(out, "\n5\n") {
		t.Errorf("after Ctrl-C on 1+ the line 2+3 printed %q, want 5", out)
	}
	// Ctrl-C in a continuation discards the whole chunk.
	tm.send("if true then\r")
	tm.expect(ContinuationPrompt)
	tm.send("\x03")
	tm.expect("\n> ")
	if out := tm.run("2+4"); !strings.Contains(out, "\n6\n") {
		t.Errorf("after Ctrl-C in a continuation 2+4 printed %q, want 6", out)
	}
}

func TestCtrlDExitsZero(t *testing.T) {
	tm := startTerm(t, "-")
	tm.run("y = 1")
	tm.send("\x04")
	if code := tm.exitCode(); code != 0 {
		t.Errorf("Ctrl-D exited %d, want 0", code)
	}
}

func TestExitCode(t *testing.T) {
	tm := startTerm(t, "-")
	tm.send("exit(3)\r")
	if code := tm.exitCode(); code != 3 {
		t.Errorf("exit(3) exited %d", code)
	}
}

func TestHelp(t *testing.T) {
	tm := startTerm(t, "-")
	out := tm.run(`help("sr1")`)
	if strings.Contains(out, "stdin:") || strings.Contains(out, "attempt to") {
		t.Errorf("help(\"sr1\") printed an error: %q", out)
	}
	if !strings.Contains(out, "sr1") {
		t.Logf("help(\"sr1\") printed no entry yet: %q", out)
	}
}

// TestStdinNotATerminal runs stdin as a script.
func TestStdinNotATerminal(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src, stdout, stderr string
		code                int
	}{
		{"print(40+2)\n", "42\n", "", 0},
		{"x = 1\nerror('bad input')\n", "", "stdin:2: bad input", 2},
		{"exit(5)", "", "", 5},
		{"1+2\n", "", "syntax error", 2}, // a script, not REPL input
	} {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "ECHOLOT_REPL_TEST_HISTORY=-", "HOME="+t.TempDir())
		cmd.Stdin = strings.NewReader(c.src)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || stdout.String() != c.stdout || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("stdin %q: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.src, code, stdout.String(), stderr.String(), c.code, c.stdout, c.stderr)
		}
		if strings.Contains(stdout.String(), "Lua REPL") {
			t.Errorf("stdin %q: the greeting was printed for a script", c.src)
		}
	}
}

func TestJoinLines(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
		ok   bool
	}{
		{[]string{"for i=1,3 do", "  print(i)", "end"}, "for i=1,3 do print(i) end", true},
		{[]string{"x = 1 -- one", "y = 2"}, "x = 1 y = 2", true},
		{[]string{`s = "a  -- b"`, "t = 'it''s'"}, `s = "a  -- b" t = 'it''s'`, true},
		{[]string{"s = [[a", "b]]"}, "", false},
		{[]string{"s = [==[a]]b]==] --[[c", "d]] x = 1"}, "s = [==[a]]b]==] x = 1", true},
		{[]string{`s = "a\`, `b"`}, "", false},
	} {
		got, ok := joinLines(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("joinLines(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
