// Package tour is the guided tour behind `echolot lab tour`: on a lab it
// shows echo with a pattern and its verification, payload corruption, the
// pattern a fault rule drops found by a sweep, path-MTU discovery, record
// route, timestamps, and a TTL-exceeded error whose quote reveals what a hop
// rewrote. Each step explains its result in a sentence, and everything seen
// on the client's interface is written to a pcapng file whose comments link
// every answer to its probe.
//
// Until echolot's own probe engine lands, the probes are sent by iputils
// ping inside the lab's client node; echolot captures them on the wire and
// does the matching, verification and quote diffs itself.
package tour
