// Command gitmig moves microservices between Kubernetes clusters through Git.
package main

import (
	"os"

	"github.com/gitmig/gitmig/internal/cmd/root"
	"github.com/gitmig/gitmig/internal/cmdutil"
)

func main() {
	os.Exit(cmdutil.Main(root.Run, os.Args[1:], cmdutil.StdStreams()))
}
