package fault

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// The control protocol: a client connects to the node's Unix stream
// socket and writes requests, one JSON object per line; the node answers
// each with one JSON object per line, in order:
//
//	{"op":"add","rule":"corrupt offset=30 flip=0x01"}  → {"id":3}
//	{"op":"list"}    → {"rules":[{"id":3,"rule":"corrupt offset=30 flip=0x01","seen":10,"matched":10}]}
//	{"op":"del","id":3} → {}
//	{"op":"clear"}   → {}
//	{"op":"stats"}   → {"stats":{"to_server":{…},"to_client":{…}}}
//
// A request that fails is answered {"error":"TEXT"} with the text of the
// node's error, which the client returns as its error.

type request struct {
	Op   string `json:"op"`
	Rule string `json:"rule,omitempty"`
	ID   int    `json:"id,omitempty"`
}

type response struct {
	Error string       `json:"error,omitempty"`
	ID    int          `json:"id,omitempty"`
	Rules []RuleStatus `json:"rules,omitzero"`
	Stats *Stats       `json:"stats,omitempty"`
}

// maxLine bounds a request or response line.
const maxLine = 1 << 20

// callTimeout bounds one request to a node.
const callTimeout = 10 * time.Second

// Serve answers control requests for n on the Unix socket sockPath until
// ctx is done, then closes the socket, removes its file and returns nil.
// A stale socket file left by a crashed node is replaced; one where a node
// still answers is an error. The socket is made accessible to its owner
// only (mode 0600).
func Serve(ctx context.Context, n *Node, sockPath string) error {
	if fi, err := os.Lstat(sockPath); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return fmt.Errorf("fault: control socket path %s exists and is not a socket: remove it or choose another path", sockPath)
		}
		if c, err := net.DialTimeout("unix", sockPath, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("fault: control socket %s is in use by a running fault node: stop that lab first (echolot lab down)", sockPath)
		}
		if err := os.Remove(sockPath); err != nil {
			return fmt.Errorf("fault: removing stale control socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("fault: control socket: %w (does the directory exist and is it writable?)", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(sockPath, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("fault: control socket: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			ln.Close()
			return fmt.Errorf("fault: control socket: %w", err)
		}
		go serveConn(ctx, n, c)
	}
}

func serveConn(ctx context.Context, n *Node, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		var req request
		var resp response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Error = "fault: control request is not JSON: " + err.Error()
		} else {
			resp = handle(n, req)
		}
		if err := enc.Encode(&resp); err != nil {
			return
		}
	}
}

func handle(n *Node, req request) response {
	var resp response
	var err error
	switch req.Op {
	case "add":
		var r Rule
		if r, err = ParseRule(req.Rule); err == nil {
			resp.ID, err = n.Add(r)
		}
	case "list":
		resp.Rules, err = n.List()
		if resp.Rules == nil {
			resp.Rules = []RuleStatus{}
		}
	case "del":
		err = n.Delete(req.ID)
	case "clear":
		err = n.Clear()
	case "stats":
		st := n.Stats()
		resp.Stats = &st
	default:
		err = fmt.Errorf("fault: control op %q unknown: use add, list, del, clear or stats", req.Op)
	}
	if err != nil {
		resp = response{Error: err.Error()}
	}
	return resp
}

// Client is a Controller that talks to a fault node through its control
// socket. Each call makes one connection, so a Client keeps working across
// restarts of the node and is safe for concurrent use.
type Client struct {
	path string
}

// Dial returns a Controller (a *Client) for the node serving sockPath,
// after checking that a node answers there.
func Dial(sockPath string) (Controller, error) {
	c, err := net.DialTimeout("unix", sockPath, callTimeout)
	if err != nil {
		return nil, fmt.Errorf("fault: no fault node answers at %s: %w (is the lab up? see echolot lab status)", sockPath, err)
	}
	c.Close()
	return &Client{path: sockPath}, nil
}

func (c *Client) call(req request) (response, error) {
	conn, err := net.DialTimeout("unix", c.path, callTimeout)
	if err != nil {
		return response{}, fmt.Errorf("fault: no fault node answers at %s: %w (is the lab up? see echolot lab status)", c.path, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(callTimeout))
	line, err := json.Marshal(req)
	if err != nil {
		return response{}, err
	}
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return response{}, fmt.Errorf("fault: control socket %s: %w", c.path, err)
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	if !sc.Scan() {
		err := sc.Err()
		if err == nil {
			err = errors.New("connection closed without an answer")
		}
		return response{}, fmt.Errorf("fault: control socket %s: %w", c.path, err)
	}
	var resp response
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		return response{}, fmt.Errorf("fault: control socket %s: bad answer: %w", c.path, err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// Add implements Controller. The rule travels as its text (Rule.String),
// so it is validated again by the node.
func (c *Client) Add(r Rule) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	resp, err := c.call(request{Op: "add", Rule: r.String()})
	return resp.ID, err
}

// List implements Controller.
func (c *Client) List() ([]RuleStatus, error) {
	resp, err := c.call(request{Op: "list"})
	if err != nil {
		return nil, err
	}
	for i := range resp.Rules {
		resp.Rules[i].Rule.ID = resp.Rules[i].ID
	}
	if resp.Rules == nil {
		resp.Rules = []RuleStatus{}
	}
	return resp.Rules, nil
}

// Delete implements Controller.
func (c *Client) Delete(id int) error {
	_, err := c.call(request{Op: "del", ID: id})
	return err
}

// Clear implements Controller.
func (c *Client) Clear() error {
	_, err := c.call(request{Op: "clear"})
	return err
}

// Stats returns the node's per-direction counters.
func (c *Client) Stats() (Stats, error) {
	resp, err := c.call(request{Op: "stats"})
	if err != nil || resp.Stats == nil {
		if err == nil {
			err = fmt.Errorf("fault: control socket %s: answer without stats", c.path)
		}
		return Stats{}, err
	}
	return *resp.Stats, nil
}
