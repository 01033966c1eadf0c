package gitserver_test

import (
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
)

func TestMain(m *testing.M) { gittest.Main(m) }
