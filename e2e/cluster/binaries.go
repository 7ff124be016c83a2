package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// BinDirEnv names a directory searched first for every binary.
const BinDirEnv = "E2E_BIN_DIR"

// BinDirs are the directories binaries are looked up in, in order:
// $E2E_BIN_DIR, the bin/ directory of the repository root (the first parent
// holding go.work, where `make build e2e-bins` writes), and $TESTENV_BIN_DIR
// (prebuilt control-plane binaries shared with the unit tests).
func BinDirs() []string {
	var dirs []string
	if d := os.Getenv(BinDirEnv); d != "" {
		dirs = append(dirs, d)
	}
	if root, err := RepoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin"))
	}
	if d := os.Getenv("TESTENV_BIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	return dirs
}

// RepoRoot is the first parent of the working directory that holds go.work.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.work in %s or any parent", wd)
		}
	}
}

// Binary finds name in BinDirs.
func Binary(name string) (string, error) {
	dirs := BinDirs()
	for _, d := range dirs {
		path := filepath.Join(d, name)
		if info, err := os.Stat(path); err == nil && !info.IsDir() {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s; run `make build e2e-bins` or set %s", name, strings.Join(dirs, ", "), BinDirEnv)
}
