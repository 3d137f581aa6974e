// Command gendoc writes docs/lua-api.md from the help entries of package
// script, so that help(name) in the REPL and the document never differ:
//
//	go run ./script/gendoc > docs/lua-api.md
package main

import (
	"fmt"

	"github.com/echolot/echolot/script"
)

func main() {
	fmt.Print(script.Markdown())
}
