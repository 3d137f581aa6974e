// Package tour is the guided tour behind `echolot lab tour`: on a lab it
// shows echo with a pattern and its verification, payload corruption, the
// pattern a fault rule drops found by a sweep, path-MTU discovery, record
// route, timestamps, and a TTL-exceeded error whose quote reveals what a hop
// rewrote. Each step explains its result in a sentence, and everything seen
// on the client's interface is written to a pcapng file whose comments link
// every answer to its probe.
//
// The probes are sent by iputils ping inside the lab's client node;
// echolot captures them on the wire (pcapio.Sniff) and does the matching
// (pcapio.Match), verification and quote diffs itself, and writes the
// capture with pcapio. Moving the probes onto the probe engine is the next
// step, once the Lua API exists to show them as scripts.
package tour
