# Stage: figures. See docs/interfaces.md for the files it reads and writes.
