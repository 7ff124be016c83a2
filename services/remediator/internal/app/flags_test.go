package app

import (
	"flag"
	"testing"
)

// TestTheDefaultFlagsAreValid: the remediator starts with no flag set
// beyond the shared ones; a new flag without a valid default would stop
// it at start-up.
func TestTheDefaultFlagsAreValid(t *testing.T) {
	svc := Service()
	fs := flag.NewFlagSet("remediator", flag.ContinueOnError)
	svc.AddFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := svc.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}
