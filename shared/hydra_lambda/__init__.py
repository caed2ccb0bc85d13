"""hydra-lambda: the classic ORY Hydra OAuth2 API as a serverless AWS Lambda bundle."""

__version__ = "0.1.0"
