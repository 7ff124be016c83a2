package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BinDirEnv overrides where the control-plane binaries are found.
const BinDirEnv = "TESTENV_BIN_DIR"

// binDir finds the directory holding etcd and kube-apiserver: $TESTENV_BIN_DIR,
// else the bin/ directory of the first parent that has one (the repository
// root, since `make test` builds them there).
func binDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "bin")
		if _, err := os.Stat(filepath.Join(candidate, "kube-apiserver")); err == nil {
			return candidate, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", errors.New("kube-apiserver not found in any parent bin/ directory; run `make testenv-bins` or set " + BinDirEnv)
}

func binary(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found in %s; run `make testenv-bins`: %w", name, dir, err)
	}
	return path, nil
}
