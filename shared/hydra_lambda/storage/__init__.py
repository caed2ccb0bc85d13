"""DynamoDB storage through pynamodb: table models here, one repository module per concern."""
