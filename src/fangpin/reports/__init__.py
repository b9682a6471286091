"""What a run hands back to people: result files, the county office's workbook, the printed summary."""
