// BerthArchive
