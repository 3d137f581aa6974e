module github.com/echolot/echolot

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7
	golang.org/x/net v0.62.0
)

require (
	github.com/chzyer/readline v1.5.1
	github.com/yuin/gopher-lua v1.1.2
	golang.org/x/sys v0.49.0
)
