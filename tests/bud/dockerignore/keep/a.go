keep/a.go
