// Package render writes the four overlay edits that move a service between clusters
// (deploy, route, flip and cleanup) from the fleet's model, and shows what each
// changes: the files, and the rendered objects of the edited cluster.
//
// Everything here is a pure function of the model: it reads the tree and the builds,
// and returns edits with the model they lead to; it never touches git or a cluster.
package render
