// AddressSanitizer defaults for the unit tests (only in DESK_SANITIZE builds; ASAN_OPTIONS still
// overrides them). allocator_may_return_null=1: a malloc or calloc that fails returns null
// instead of aborting, as without the sanitizer: libarchive's failed calloc in
// the archive listing's child is then reported as it is in the daemon (ArchiveInspectTest,
// AttachmentStageTest). operator new still dies on failure under ASan instead of throwing.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif
