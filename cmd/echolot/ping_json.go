package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/echolot/echolot/probe"
)

// The --json schema (documented in README, "echolot ping --json"): one
// object per line, "type":"result" for every probe.Result and
// "type":"summary" once at the end.

// jsonResult is one probe.Result.
type jsonResult struct {
	Type     string       `json:"type"`
	Kind     string       `json:"kind"`
	Answer   string       `json:"answer,omitempty"`
	State    string       `json:"state,omitempty"`
	Probe    uint64       `json:"probe"`
	Seq      *int         `json:"seq,omitempty"`
	Ident    *int         `json:"ident,omitempty"`
	Port     int          `json:"port,omitempty"`
	From     string       `json:"from,omitempty"`
	Bytes    int          `json:"bytes,omitempty"`
	TTL      *int         `json:"ttl,omitempty"`
	ProbeTTL int          `json:"probe_ttl,omitempty"`
	RTTms    *float64     `json:"rtt_ms,omitempty"`
	Sent     string       `json:"time_sent,omitempty"`
	Received string       `json:"time_received,omitempty"`
	TxKernel bool         `json:"tx_kernel"`
	RxKernel bool         `json:"rx_kernel"`
	MTU      int          `json:"mtu,omitempty"`
	Text     string       `json:"text,omitempty"`
	DiffAddr bool         `json:"different_address,omitempty"`
	Partial  bool         `json:"partial_quote,omitempty"`
	Changes  []jsonChange `json:"changes,omitempty"`
	Damage   string       `json:"damage,omitempty"`
	Options  []string     `json:"options,omitempty"`
	Error    string       `json:"error,omitempty"`
	Pattern  string       `json:"pattern,omitempty"`
}

// jsonChange is one packet.Change of an ICMP error's quote.
type jsonChange struct {
	Field    string `json:"field"`
	Text     string `json:"text"`
	Expected bool   `json:"expected"`
	Note     string `json:"note,omitempty"`
}

// jsonRTT are the RTT figures of the summary, in milliseconds.
type jsonRTT struct {
	Min  float64 `json:"min_ms"`
	Avg  float64 `json:"avg_ms"`
	Max  float64 `json:"max_ms"`
	Mdev float64 `json:"mdev_ms"`
	EWMA float64 `json:"ewma_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
}

// jsonSummary is the last record.
type jsonSummary struct {
	Type        string   `json:"type"`
	Host        string   `json:"host"`
	Address     string   `json:"address"`
	Transmitted int64    `json:"transmitted"`
	Received    int64    `json:"received"`
	Duplicates  int64    `json:"duplicates"`
	Corrupted   int64    `json:"corrupted"`
	Damaged     int64    `json:"damaged"`
	Errors      int64    `json:"errors"`
	Local       int64    `json:"local"`
	Late        int64    `json:"late"`
	Timeouts    int64    `json:"timeouts"`
	Unrelated   int64    `json:"unrelated"`
	Loss        float64  `json:"loss_percent"`
	TimeMs      int64    `json:"time_ms"`
	Pipe        int      `json:"pipe,omitempty"`
	RTT         *jsonRTT `json:"rtt,omitempty"`
	Exit        int      `json:"exit_code"`
}

// jsonWriter writes one JSON object per line.
type jsonWriter struct{ enc *json.Encoder }

func newJSONWriter(w io.Writer) *jsonWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonWriter{enc: enc}
}

func (j *jsonWriter) write(v any) { _ = j.enc.Encode(v) }

func stampText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func ms3(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// jsonResult writes r as a "result" record.
func (p *pinger) jsonResult(r *probe.Result) {
	if r.Kind == probe.KindLocal && r.Probe != 0 && r.Probe == p.lastLocal {
		return // one record per probe, as the text output
	}
	if r.Kind == probe.KindLocal {
		p.lastLocal = r.Probe
	}
	j := jsonResult{Type: "result", Kind: r.Kind.String(), Answer: r.Answer, Probe: r.Probe, ProbeTTL: r.TTL,
		Sent: stampText(r.Sent), Received: stampText(r.Received), TxKernel: r.TxKernel, RxKernel: r.RxKernel,
		MTU: r.MTU, DiffAddr: p.differentAddress(r), Partial: r.PartialQuote, Pattern: r.Pattern}
	if r.From.IsValid() {
		j.From = r.From.String()
	}
	if r.Seq >= 0 {
		seq := r.Seq
		j.Seq = &seq
	}
	switch p.mode {
	case modeEcho:
		id := int(p.id)
		j.Ident = &id
	case modeTCP:
		j.Port = p.c.tcpPort
	case modeUDP:
		j.Port = p.c.udpPort
	}
	if r.ReplyTTL >= 0 && r.Kind != probe.KindTimeout && r.Kind != probe.KindLocal {
		ttl := r.ReplyTTL
		j.TTL = &ttl
	}
	if r.Kind != probe.KindTimeout && r.Kind != probe.KindLocal && r.Kind != probe.KindUnrelated {
		v := ms3(r.RTT)
		j.RTTms = &v
	}
	if r.Packet != nil {
		if p.mode != modeTCP && r.Kind != probe.KindError {
			j.Bytes = len(r.Packet.Payload) + 8 // ICMP or UDP header and data, as ping counts
		}
	}
	switch {
	case r.Answer == "tcp-open" || r.Answer == "udp-reply":
		j.State = "open"
	case r.Answer == "tcp-closed" || p.closedPort(r):
		j.State = "closed"
	}
	if r.Kind == probe.KindError && r.Packet != nil {
		j.Text = errorText(r)
	}
	for _, ch := range r.Changes {
		j.Changes = append(j.Changes, jsonChange{Field: ch.Field, Text: ch.String(), Expected: ch.Expected, Note: ch.Note})
	}
	if r.Damage != nil {
		j.Damage = r.Damage.String()
	}
	for _, o := range r.IPOptions {
		j.Options = append(j.Options, o.String())
	}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	p.jsonOut.write(j)
}

// jsonSummary writes the "summary" record.
func (p *pinger) jsonSummary(s *probe.Stats, r probe.IPutilsRTT, n int64, code int) {
	j := jsonSummary{Type: "summary", Host: p.c.host, Address: p.dst.String(), Transmitted: s.Transmitted,
		Received: s.Received, Duplicates: s.Duplicates, Corrupted: s.Corrupted, Damaged: s.Damaged,
		Errors: s.Errors, Local: s.Local, Late: s.Late, Timeouts: s.Timeouts, Unrelated: s.Unrelated,
		Loss: pingLoss(s), TimeMs: s.Elapsed.Milliseconds(), Exit: code}
	if p.pipe > 1 {
		j.Pipe = p.pipe
	}
	if n > 0 && p.timed() {
		us := func(v int64) float64 { return float64(v) / 1000 }
		p50, p90, p99 := p.percentiles(s)
		j.RTT = &jsonRTT{Min: us(r.Min), Avg: us(r.Avg), Max: us(r.Max), Mdev: us(r.Mdev), EWMA: us(r.EWMA),
			P50: ms3(p50), P90: ms3(p90), P99: ms3(p99)}
	}
	p.jsonOut.write(j)
}
