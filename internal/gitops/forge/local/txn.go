package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/gitmig/gitmig/internal/gitops/gitstore"
)

// snapshot is the remote as one fetch saw it.
type snapshot struct {
	f *Forge
	// tip is refs/gitmig/forge; zero before the forge's first change.
	tip   plumbing.Hash
	db    *Database
	heads map[string]plumbing.Hash
	// intro caches, per base branch, the commit of the base that brought in each of
	// its commits (see introductions).
	intro map[string]map[plumbing.Hash]plumbing.Hash
	// notes says, per pull request number, what derive changed, for the body of the
	// forge commit; a change that records the same fact itself deletes the note.
	notes map[int]string
}

// load fetches the remote and reads the database. Callers hold f.mu.
func (f *Forge) load(ctx context.Context) (*snapshot, error) {
	if err := f.fetch(ctx); err != nil {
		return nil, err
	}
	heads, err := f.branches()
	if err != nil {
		return nil, err
	}
	tip, err := f.ref(ForgeRef)
	if err != nil {
		return nil, err
	}
	db := newDatabase()
	if !tip.IsZero() {
		data, ok, err := gitstore.ReadFile(f.store, tip, dbFile)
		if err == nil && !ok {
			err = fmt.Errorf("%s is missing", dbFile)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ForgeRef, err)
		}
		if db, err = decodeDatabase(data); err != nil {
			return nil, fmt.Errorf("reading %s: %w", ForgeRef, err)
		}
	}
	return &snapshot{f: f, tip: tip, db: db, heads: heads, intro: map[string]map[plumbing.Hash]plumbing.Hash{}, notes: map[int]string{}}, nil
}

// change edits the database of a fresh snapshot and returns the subject of the forge
// commit that records it. It may run several times, each on a newer snapshot, so it
// must not act outside s.
type change func(s *snapshot) (subject string, err error)

// update applies fn to the remote's database and pushes the result as a child of the
// commit it read. A concurrent update makes the push fail; fn is then reapplied on
// the new state. Pull requests merged by hand are recorded on the way. Nothing is
// pushed when the database does not change. Callers hold f.mu.
func (f *Forge) update(ctx context.Context, fn change) error {
	for attempt := 1; ; attempt++ {
		s, err := f.load(ctx)
		if err != nil {
			return err
		}
		before, err := s.db.encode()
		if err != nil {
			return err
		}
		if err := s.derive(); err != nil {
			return err
		}
		subject, err := fn(s)
		if err != nil {
			return err
		}
		after, err := s.db.encode()
		if err != nil {
			return err
		}
		if bytes.Equal(before, after) {
			return nil
		}
		if subject == "" {
			subject = "record pull requests merged outside gitmig"
		}
		msg := subject + "\n"
		if len(s.notes) > 0 {
			msg += "\n"
			for _, n := range slices.Sorted(maps.Keys(s.notes)) {
				msg += s.notes[n] + "\n"
			}
		}
		commit, err := f.writeDatabase(after, s.tip, msg)
		if err != nil {
			return err
		}
		err = f.push(ctx, ForgeRef, s.tip, commit)
		if errors.Is(err, errMoved) && attempt < maxAttempts {
			continue
		}
		if errors.Is(err, errMoved) {
			return fmt.Errorf("%w (gave up after %d attempts: too many concurrent changes)", err, attempt)
		}
		return err
	}
}

// writeDatabase stores a forge commit holding data as pulls.json, child of parent.
func (f *Forge) writeDatabase(data []byte, parent plumbing.Hash, msg string) (plumbing.Hash, error) {
	blob, err := gitstore.WriteBlob(f.store, data)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tree, err := gitstore.WriteFiles(f.store, gitstore.Files{dbFile: {Hash: blob, Mode: filemode.Regular}})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var parents []plumbing.Hash
	if !parent.IsZero() {
		parents = []plumbing.Hash{parent}
	}
	return f.writeCommit(tree, parents, msg, f.now())
}
