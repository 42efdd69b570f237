-- The MCP method of an upstream call (issue #12). Until now only CLIENT
-- spans of tools/call became tool_call_record rows; every operation a
-- calling side makes (initialize, tools/list, prompts/get, ...) is a row
-- now, so the table says which one. Adding a nullable column is a catalog
-- change only: rows written before this migration keep method NULL, and
-- all of them are tools/call.
ALTER TABLE tool_call_record ADD COLUMN method text;
