# Stage: paper. See docs/interfaces.md for the files it reads and writes.
