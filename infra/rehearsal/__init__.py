"""The deploy rehearsal (make rehearse; CI runs it): template.yaml validated, built and packaged by the AWS SAM CLI
as for a deploy, with the local cloud's S3 (moto on 127.0.0.1) as the packaging bucket and no AWS account.

`artifacts` (what the packaged template references and the proof it is in the bucket), `resources` (the
CloudFormation resources the template becomes, and cycles), `sam` (the SAM CLI from its own venv, pointed at the
loopback endpoint), `translate` (SAM's translator, run on the SAM CLI's venv), `__main__` (the steps and the
summary).
"""
