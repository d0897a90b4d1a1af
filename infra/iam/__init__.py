"""Least privilege, proven: each function's IAM grants in template.yaml against the AWS calls its code makes.

    python -m infra.iam report [--before REV]   # the table per function (actions x resources), now and at REV
    python -m infra.iam check                   # exit 1 on a missing or an unused grant

- granted (`policies.granted`): the template expanded offline by SAM's own translator (policy templates become
  statements; the roles SAM generates, with the managed policies it attaches), each statement normalised to
  (action, resource logical id, path inside it): `dynamodb:Query LeadsTable index/ScoreIndex`,
  `s3:PutObject UploadsBucket results/*`. The managed policies SAM adds for Lambda's runtime (logs, X-Ray, the
  SQS event source's poller) are classified as the runtime's (`RUNTIME_MANAGED_POLICIES`), not the code's.
- needed (`policies.needed`): each function's wiring (`aiqleads.composition.FUNCTION_WIRING`) built with its
  template environment, where every resource reference stands for its logical id; every object in it that declares
  `IAM` (aiqleads.iam) names the attribute holding its resource, which maps back to the template resource.
- in the local cloud, `infra.local_cloud.calls.CallRecorder` records every call each function makes
  (`actions.requests_of`: operation -> the IAM actions AWS checks); the integration tests fail on a call that no
  declaration covers, which keeps the declarations honest.
"""
