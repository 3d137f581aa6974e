package script

import (
	"testing"

	"github.com/echolot/echolot/lab/labtest"
)

func TestMain(m *testing.M) { labtest.Main(m) }
