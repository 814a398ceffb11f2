package main

// The portal renders pages with html/template, whose reflection makes the
// linker keep every exported method of every type an interface value can
// reach, struct fields included. An SDK client stored in an interface, or
// in a struct stored in one, would bring all of its operations and their
// serializers into the binary (all ~800 of EC2's: the binary was 49.6 MB).
// The structs below hold the operations the portal calls as bound methods
// in func fields, which reflection cannot follow, so only those are linked
// (25.8 MB with EC2 alone treated this way).

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ec2Calls calls the ec2 operations of the EC2 interface.
type ec2Calls struct {
	describeInstances  func(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	describeImages     func(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	runInstances       func(context.Context, *ec2.RunInstancesInput, ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	startInstances     func(context.Context, *ec2.StartInstancesInput, ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error)
	stopInstances      func(context.Context, *ec2.StopInstancesInput, ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
	terminateInstances func(context.Context, *ec2.TerminateInstancesInput, ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	describeKeyPairs   func(context.Context, *ec2.DescribeKeyPairsInput, ...func(*ec2.Options)) (*ec2.DescribeKeyPairsOutput, error)
	createKeyPair      func(context.Context, *ec2.CreateKeyPairInput, ...func(*ec2.Options)) (*ec2.CreateKeyPairOutput, error)
	deleteKeyPair      func(context.Context, *ec2.DeleteKeyPairInput, ...func(*ec2.Options)) (*ec2.DeleteKeyPairOutput, error)
}

func newEC2Calls(c *ec2.Client) ec2Calls {
	return ec2Calls{describeInstances: c.DescribeInstances, describeImages: c.DescribeImages, runInstances: c.RunInstances, startInstances: c.StartInstances, stopInstances: c.StopInstances, terminateInstances: c.TerminateInstances, describeKeyPairs: c.DescribeKeyPairs, createKeyPair: c.CreateKeyPair, deleteKeyPair: c.DeleteKeyPair}
}

func (x ec2Calls) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return x.describeInstances(ctx, in, o...)
}

func (x ec2Calls) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, o ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return x.describeImages(ctx, in, o...)
}

func (x ec2Calls) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, o ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	return x.runInstances(ctx, in, o...)
}

func (x ec2Calls) StartInstances(ctx context.Context, in *ec2.StartInstancesInput, o ...func(*ec2.Options)) (*ec2.StartInstancesOutput, error) {
	return x.startInstances(ctx, in, o...)
}

func (x ec2Calls) StopInstances(ctx context.Context, in *ec2.StopInstancesInput, o ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	return x.stopInstances(ctx, in, o...)
}

func (x ec2Calls) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, o ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return x.terminateInstances(ctx, in, o...)
}

func (x ec2Calls) DescribeKeyPairs(ctx context.Context, in *ec2.DescribeKeyPairsInput, o ...func(*ec2.Options)) (*ec2.DescribeKeyPairsOutput, error) {
	return x.describeKeyPairs(ctx, in, o...)
}

func (x ec2Calls) CreateKeyPair(ctx context.Context, in *ec2.CreateKeyPairInput, o ...func(*ec2.Options)) (*ec2.CreateKeyPairOutput, error) {
	return x.createKeyPair(ctx, in, o...)
}

func (x ec2Calls) DeleteKeyPair(ctx context.Context, in *ec2.DeleteKeyPairInput, o ...func(*ec2.Options)) (*ec2.DeleteKeyPairOutput, error) {
	return x.deleteKeyPair(ctx, in, o...)
}

// identityCalls calls the cognitoidentity operations of the Identity interface.
type identityCalls struct {
	getId                     func(context.Context, *cognitoidentity.GetIdInput, ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error)
	getCredentialsForIdentity func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error)
}

func newIdentityCalls(c *cognitoidentity.Client) identityCalls {
	return identityCalls{getId: c.GetId, getCredentialsForIdentity: c.GetCredentialsForIdentity}
}

func (x identityCalls) GetId(ctx context.Context, in *cognitoidentity.GetIdInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error) {
	return x.getId(ctx, in, o...)
}

func (x identityCalls) GetCredentialsForIdentity(ctx context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
	return x.getCredentialsForIdentity(ctx, in, o...)
}

// parameterCalls calls the ssm operations of the Parameters interface.
type parameterCalls struct {
	getParameters func(context.Context, *ssm.GetParametersInput, ...func(*ssm.Options)) (*ssm.GetParametersOutput, error)
}

func newParameterCalls(c *ssm.Client) parameterCalls {
	return parameterCalls{getParameters: c.GetParameters}
}

func (x parameterCalls) GetParameters(ctx context.Context, in *ssm.GetParametersInput, o ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	return x.getParameters(ctx, in, o...)
}

// priceCalls calls the pricing operations of the Prices interface.
type priceCalls struct {
	getProducts func(context.Context, *pricing.GetProductsInput, ...func(*pricing.Options)) (*pricing.GetProductsOutput, error)
}

func newPriceCalls(c *pricing.Client) priceCalls {
	return priceCalls{getProducts: c.GetProducts}
}

func (x priceCalls) GetProducts(ctx context.Context, in *pricing.GetProductsInput, o ...func(*pricing.Options)) (*pricing.GetProductsOutput, error) {
	return x.getProducts(ctx, in, o...)
}

// costCalls calls the costexplorer operations of the Costs interface.
type costCalls struct {
	getCostAndUsage func(context.Context, *costexplorer.GetCostAndUsageInput, ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error)
}

func newCostCalls(c *costexplorer.Client) costCalls {
	return costCalls{getCostAndUsage: c.GetCostAndUsage}
}

func (x costCalls) GetCostAndUsage(ctx context.Context, in *costexplorer.GetCostAndUsageInput, o ...func(*costexplorer.Options)) (*costexplorer.GetCostAndUsageOutput, error) {
	return x.getCostAndUsage(ctx, in, o...)
}

// userCalls calls the cip operations of the Users interface.
type userCalls struct {
	listUsers                func(context.Context, *cip.ListUsersInput, ...func(*cip.Options)) (*cip.ListUsersOutput, error)
	listUsersInGroup         func(context.Context, *cip.ListUsersInGroupInput, ...func(*cip.Options)) (*cip.ListUsersInGroupOutput, error)
	adminListGroupsForUser   func(context.Context, *cip.AdminListGroupsForUserInput, ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error)
	adminEnableUser          func(context.Context, *cip.AdminEnableUserInput, ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error)
	adminDeleteUser          func(context.Context, *cip.AdminDeleteUserInput, ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	adminAddUserToGroup      func(context.Context, *cip.AdminAddUserToGroupInput, ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error)
	adminRemoveUserFromGroup func(context.Context, *cip.AdminRemoveUserFromGroupInput, ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error)
}

func newUserCalls(c *cip.Client) userCalls {
	return userCalls{listUsers: c.ListUsers, listUsersInGroup: c.ListUsersInGroup, adminListGroupsForUser: c.AdminListGroupsForUser, adminEnableUser: c.AdminEnableUser, adminDeleteUser: c.AdminDeleteUser, adminAddUserToGroup: c.AdminAddUserToGroup, adminRemoveUserFromGroup: c.AdminRemoveUserFromGroup}
}

func (x userCalls) ListUsers(ctx context.Context, in *cip.ListUsersInput, o ...func(*cip.Options)) (*cip.ListUsersOutput, error) {
	return x.listUsers(ctx, in, o...)
}

func (x userCalls) ListUsersInGroup(ctx context.Context, in *cip.ListUsersInGroupInput, o ...func(*cip.Options)) (*cip.ListUsersInGroupOutput, error) {
	return x.listUsersInGroup(ctx, in, o...)
}

func (x userCalls) AdminListGroupsForUser(ctx context.Context, in *cip.AdminListGroupsForUserInput, o ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error) {
	return x.adminListGroupsForUser(ctx, in, o...)
}

func (x userCalls) AdminEnableUser(ctx context.Context, in *cip.AdminEnableUserInput, o ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error) {
	return x.adminEnableUser(ctx, in, o...)
}

func (x userCalls) AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, o ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	return x.adminDeleteUser(ctx, in, o...)
}

func (x userCalls) AdminAddUserToGroup(ctx context.Context, in *cip.AdminAddUserToGroupInput, o ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error) {
	return x.adminAddUserToGroup(ctx, in, o...)
}

func (x userCalls) AdminRemoveUserFromGroup(ctx context.Context, in *cip.AdminRemoveUserFromGroupInput, o ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error) {
	return x.adminRemoveUserFromGroup(ctx, in, o...)
}

// metricCalls calls the cloudwatch operations of the Metrics interface.
type metricCalls struct {
	getMetricData func(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

func newMetricCalls(c *cloudwatch.Client) metricCalls {
	return metricCalls{getMetricData: c.GetMetricData}
}

func (x metricCalls) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return x.getMetricData(ctx, in, o...)
}

// athenaCalls calls the athena operations of the Athena interface.
type athenaCalls struct {
	startQueryExecution func(context.Context, *athena.StartQueryExecutionInput, ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error)
	getQueryExecution   func(context.Context, *athena.GetQueryExecutionInput, ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error)
	getQueryResults     func(context.Context, *athena.GetQueryResultsInput, ...func(*athena.Options)) (*athena.GetQueryResultsOutput, error)
}

func newAthenaCalls(c *athena.Client) athenaCalls {
	return athenaCalls{startQueryExecution: c.StartQueryExecution, getQueryExecution: c.GetQueryExecution, getQueryResults: c.GetQueryResults}
}

func (x athenaCalls) StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, o ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	return x.startQueryExecution(ctx, in, o...)
}

func (x athenaCalls) GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, o ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	return x.getQueryExecution(ctx, in, o...)
}

func (x athenaCalls) GetQueryResults(ctx context.Context, in *athena.GetQueryResultsInput, o ...func(*athena.Options)) (*athena.GetQueryResultsOutput, error) {
	return x.getQueryResults(ctx, in, o...)
}
