package tree

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestWithReadsEditsOverTheBase(t *testing.T) {
	base := FromFS(fstest.MapFS{
		"a/keep.yaml":   {Data: []byte("keep\n")},
		"a/change.yaml": {Data: []byte("old\n")},
		"a/gone.yaml":   {Data: []byte("gone\n")},
	})
	edited := With(base, []Edit{
		{Path: "a/change.yaml", Content: []byte("new\n")},
		{Path: "a/gone.yaml", Delete: true},
		{Path: "b/c/new.yaml", Content: []byte("new file\n")},
	})
	if data, _ := edited.ReadFile("a/change.yaml"); string(data) != "new\n" {
		t.Errorf("changed file reads %q", data)
	}
	if _, err := edited.ReadFile("a/gone.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted file: %v", err)
	}
	if info, err := edited.Stat("b/c"); err != nil || !info.IsDir() {
		t.Errorf("a new file's folder: %v, %v", info, err)
	}
	if h, _ := edited.Hash("a/change.yaml"); h != BlobHash([]byte("new\n")) {
		t.Errorf("hash of an edited file: %s", h)
	}
	var names []string
	if err := fs.WalkDir(edited, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, " "); got != "a/change.yaml a/keep.yaml b/c/new.yaml" {
		t.Errorf("files: %s", got)
	}
	if data, _ := base.ReadFile("a/change.yaml"); string(data) != "old\n" {
		t.Error("With changed its base")
	}
}

// git's blob id of "hello\n", as `git hash-object` prints it.
func TestBlobHashIsGits(t *testing.T) {
	if got := BlobHash([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("BlobHash = %s", got)
	}
}

func TestDiskRefusesLinksOutOfTheRepository(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "inside.yaml"), []byte("ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(repo, "leak.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside.yaml", filepath.Join(repo, "alias.yaml")); err != nil {
		t.Fatal(err)
	}
	d, err := Disk(repo)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := d.ReadFile("leak.yaml"); err == nil {
		t.Errorf("read %q through a link out of the repository", data)
	}
	if _, err := d.Stat("leak.yaml"); err == nil {
		t.Error("Stat followed a link out of the repository")
	}
	if _, err := d.Hash("leak.yaml"); err == nil {
		t.Error("Hash followed a link out of the repository")
	}
	if data, err := d.ReadFile("alias.yaml"); err != nil || string(data) != "ok\n" {
		t.Errorf("a link inside the repository: %q, %v", data, err)
	}
	if _, err := d.ReadFile("../secret"); err == nil {
		t.Error("read a path out of the repository")
	}
}
