module example.com/demo

go 1.21

require (
	github.com/google/uuid v1.6.0
	golang.org/x/net v0.16.0
)
