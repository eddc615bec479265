//! C ABI over restyle-core (see include/restyle.h).
