"""The billing service: versioned price lists, one billable record per started session, credit notes, exports."""
