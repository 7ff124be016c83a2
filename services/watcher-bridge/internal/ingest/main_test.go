package ingest

import (
	"testing"

	"github.com/chatcli/aiops/libs/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Run(m, &env, testenv.Options{}) }
