package lab

// Exported for the external tests in package lab_test.
var (
	ReadSysctl   = readSysctl
	OffloadState = offloadState
	ParseNS      = parseNS
	BridgeBuilt  = bridgeBuilt
	IsFaultNode  = isFaultNode
)

// SetTestHookStep makes Up call fn at the start of each step; nil removes
// the hook.
func SetTestHookStep(fn func(lab, step string) error) { testHookStep = fn }
