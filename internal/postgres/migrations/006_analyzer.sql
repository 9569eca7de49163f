-- The version of the analyzer (terms.Analyzer.Version) that made each
-- document's postings. When the analysis changes — a rule, or a word added to
-- the glossary — questions are cut the new way while stored postings keep
-- the old cuts, and matches are lost without any error. Documents of another
-- version are re-analysed from their stored chunk text (ingest.Reindex: shifu
-- reindex, and shifu serve in the background), keeping chunks and
-- embeddings. '' is every document indexed before versions were recorded.
ALTER TABLE documents ADD COLUMN analyzer text NOT NULL DEFAULT '';
