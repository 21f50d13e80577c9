"""Business rules, one module per Zoho module. Each handler takes a Call and returns a Reply or raises
ZohoError, validating everything before it changes anything."""
